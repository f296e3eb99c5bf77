// Package source holds what every source shares: the Runner, Stream and
// Reader interfaces through which the pipeline runs a source without
// knowing which one (stages/source/kafka, a consumer group's partitions;
// stages/source/archive, the folders of an S3 flow-log archive), and the
// metrics of the messages a source delivered.
package source
