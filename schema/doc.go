// Package schema holds flowlake's data model as pure code: the catalogue of
// VPC flow log fields, custom formats, the parsed record, the zero-allocation
// line parser, the columnar block that batches rows, and the Hive keys and
// object names of the files written. Nothing here does I/O or starts
// goroutines.
package schema
