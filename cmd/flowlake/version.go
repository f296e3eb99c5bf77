package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"flowlake/stages/encode"
)

// version is the release the binary was built from: the Makefile stamps it
// with -ldflags "-X flowlake/stages/encode.Version=..." (git describe);
// a plain `go build` falls back to the VCS revision Go records.
func version() string {
	if encode.Version != "dev" {
		return encode.Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if len(rev) >= 12 {
			return "dev-" + rev[:12] + dirty
		}
	}
	return "dev"
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "flowlake %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
