"""AWS adapters: `S3Store` (an S3 bucket) and `SqsQueue` (an SQS queue, standard or FIFO).

boto3 is imported when the first client is built, not here: importing this package costs nothing.
"""

from failover.adapters.aws.s3 import S3Store
from failover.adapters.aws.sqs import SqsQueue

__all__ = ["S3Store", "SqsQueue"]
