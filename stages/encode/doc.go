// Package encode turns schema.Blocks into a Parquet file: version 1 data
// pages written a column at a time from the blocks' column arrays,
// dictionary or plain strings, zstd by default, all columns optional,
// statistics and page indexes, and key/value metadata describing where
// the rows came from. parquet-go supplies the format's structures,
// encodings and codecs; the files are the bytes its writer makes.
package encode
