// Package stdlib embeds the Starlark modules that scripts load as
// "@stdlib//NAME.star".
package stdlib

import "embed"

// FS holds the stdlib modules.
//
//go:embed *.star
var FS embed.FS
