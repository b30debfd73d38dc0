// Command cocalcctl runs Starlark scripts that set up CoCalc with an external
// PostgreSQL database: certificates, Docker containers, the database and the
// CoCalc container, step by step and idempotently.
package main

import (
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}
