package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/meridiandb/meridian/internal/server"
)

func runCertgen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "directory to write cert.pem and key.pem into")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated host names and IP addresses")
	if err := fs.Parse(args); err != nil {
		return err
	}
	certPEM, keyPEM, err := server.SelfSignedCert(strings.Split(*hosts, ","))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	cp, kp := filepath.Join(*out, "cert.pem"), filepath.Join(*out, "key.pem")
	if err := os.WriteFile(cp, certPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(kp, keyPEM, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\nserve with: meridian serve --tls-cert %s --tls-key %s\n", cp, kp, cp, kp)
	return nil
}
