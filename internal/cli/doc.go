// Package cli is the drover command line: a tree of cobra commands, one
// noun per resource and one file per command (<noun>_<verb>.go), as in
// Nomad's command/ package.
//
// The client commands (config, cluster, devices, tasks) are pure clients of
// package client, the public Go SDK: they never import the server. Each
// prints a table for people or, with -o json, the API's data object as the
// server sent it, for scripts.
//
// Exit codes: 0 success, 1 an API or other runtime error (printed as
// "Error: CODE: message"), 2 a usage error (a bad flag, argument or
// command).
package cli
