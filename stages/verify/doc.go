// Package verify checks a lake or an archive against its manifests: every
// listed file exists with its size, SHA-256 and row count (read back with
// arrow, a second Parquet implementation), every hour's totals add up,
// every data file is listed, every revision chains to the one before, the
// ledger of sealed hours matches the folders (a deleted hour is found), and
// an archive's hours hold the same rows as the lake's.
package verify
