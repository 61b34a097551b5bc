package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/meridiandb/meridian/internal/server"
)

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f regionFlags
	home, _ := os.UserHomeDir()
	f.register(fs, filepath.Join(home, ".meridian", "dev"))
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	regionDir := filepath.Join(cfg.DataDir, cfg.Region)
	cfg.DataDir = regionDir
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	s.Start()
	fmt.Fprintf(stdout, "Meridian dev account is up.\n  region %-14q %s (write region)\n  key    %s\n  data   %s\nPress Ctrl-C to stop.\n",
		cfg.Region, s.Endpoint(), cfg.Key, regionDir)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Close(sctx)
}
