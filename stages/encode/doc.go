// Package encode turns a schema.Block into a Parquet file with parquet-go:
// version 1 data pages, dictionary or plain strings, zstd by default, all
// columns optional, and key/value metadata describing where the rows came
// from.
package encode
