package main

import (
	"context"
	"errors"
)

func archiveCmd(ctx context.Context, args []string) error {
	return errors.New("archive: not implemented yet")
}
