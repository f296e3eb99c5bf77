CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs (
  version int,
  vpc_id string,
  srcaddr string,
  dstaddr string,
  `start` bigint,
  `end` bigint,
  bytes bigint,
  action string
)
PARTITIONED BY (
  aws_account_id string,
  aws_region string,
  year int,
  month int,
  day int,
  hour int
)
STORED AS PARQUET
LOCATION 's3://archive/compacted/AWSLogs/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.aws_account_id.type'='injected',
  'projection.aws_region.type'='enum',
  'projection.aws_region.values'='eu-west-1',
  'projection.year.type'='integer',
  'projection.year.range'='2026,2026',
  'projection.year.digits'='4',
  'projection.month.type'='integer',
  'projection.month.range'='1,12',
  'projection.month.digits'='2',
  'projection.day.type'='integer',
  'projection.day.range'='1,31',
  'projection.day.digits'='2',
  'projection.hour.type'='integer',
  'projection.hour.range'='0,23',
  'projection.hour.digits'='2',
  'storage.location.template'='s3://archive/compacted/AWSLogs/aws-account-id=${aws_account_id}/aws-service=vpcflowlogs/aws-region=${aws_region}/year=${year}/month=${month}/day=${day}/hour=${hour}'
);
