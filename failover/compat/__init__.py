"""The boto3 drop-in: S3 and SQS clients of boto3 whose buckets and queues fail over across clouds.

`failover.compat.boto3` holds the entry points (``client``, ``patch``, ``unpatch``);
`failover.compat.config` the ``[boto3]`` table of the configuration file. This package imports no
SDK by itself: the configuration reads `failover.compat.config` without botocore installed.
"""
