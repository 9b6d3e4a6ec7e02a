package api

// The ports Drover listens on unless told otherwise. Servers, workers, the CLI and the SDKs all start from
// these.
const (
	DefaultPort         = 8081 // the native API (document 001), dashboard and event stream
	DefaultAgentPort    = 8080 // the worker protocol
	DefaultKeeperPort   = 7700 // the Keeper interface (document 002)
	DefaultNetPulsePort = 9000 // the NetPulse job API (document 003)
)
