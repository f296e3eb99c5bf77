package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func notifyAgain(c chan<- os.Signal) { signal.Notify(c, os.Interrupt, syscall.SIGTERM) }

// abortOnSecondSignal lets a second SIGINT or SIGTERM, after the first
// ended ctx, abandon the final flush (abort), then exit 1 if the pipeline
// has not returned 5 s later. Abandoned records are re-read on the next
// start, so nothing is lost.
func abortOnSecondSignal(ctx context.Context, logger *slog.Logger, abort func()) {
	go func() {
		<-ctx.Done()
		sig := make(chan os.Signal, 1)
		notifyAgain(sig)
		<-sig
		logger.Warn("second signal: abandoning the final flush; unflushed records will be re-read on the next run")
		abort()
		time.AfterFunc(5*time.Second, func() { os.Exit(1) })
	}()
}
