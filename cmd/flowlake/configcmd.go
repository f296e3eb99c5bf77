package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"flowlake/config"
)

// configCmd runs `flowlake config check FILE` and `flowlake config print`.
func configCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: usage: flowlake config check FILE | flowlake config print [run flags]", config.ErrUsage)
	}
	switch args[0] {
	case "check":
		return configCheck(args[1:], stdout)
	case "print":
		return configPrint(args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown config command %q (want check or print)", config.ErrUsage, args[0])
}

// configCheck validates a file and the FLOWLAKE_* environment without
// connecting to anything, and prints every problem, one per line.
func configCheck(args []string, stdout io.Writer) error {
	if len(args) != 1 || len(args[0]) > 0 && args[0][0] == '-' {
		return fmt.Errorf("%w: usage: flowlake config check FILE", config.ErrUsage)
	}
	file := args[0]
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("%w: %w", config.ErrUsage, err)
	}
	c, _, err := config.Parse("config check", []string{"--config", file}, config.RunFlags)
	if err != nil {
		return err
	}
	for _, w := range c.Warnings() {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	ps := c.Problems()
	if len(ps) == 0 {
		fmt.Fprintf(stdout, "%s: ok\n", file)
		return nil
	}
	for _, p := range ps {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintf(stdout, "%s: %d problem(s)\n", file, len(ps))
	return errSilent{config.ErrInvalid}
}

// configPrint prints the effective configuration of `run` with the same
// file, environment and flags, secrets redacted.
func configPrint(args []string, stdout, stderr io.Writer) error {
	c, fs, err := config.Parse("config print", args, config.RunFlags)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "usage: flowlake config print [run flags]  (the effective configuration, secrets redacted)")
		printDefaults(fs)
		return err
	}
	if err != nil {
		return err
	}
	if err := c.Print(stdout); err != nil {
		return err
	}
	return c.Validate()
}

// errSilent is an error whose details were already printed.
type errSilent struct{ error }

func (e errSilent) Unwrap() error { return e.error }
