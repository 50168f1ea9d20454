"""The cloud adapters: one folder per provider, each translating its SDK's errors at its edge.

They live inside the package namespace rather than in a top-level ``adapters`` package: a top-level
import package of that name collides with an existing PyPI distribution, and mapping a top-level
folder into ``failover.adapters`` breaks type checkers and IDEs.
"""
