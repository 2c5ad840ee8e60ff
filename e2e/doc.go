// Package e2e holds stspilot's end-to-end tests: the built binary and two real
// sender-side validators run against a world of real servers on loopback
// addresses (BIND with TSIG updates, nginx serving policies over HTTPS with a
// throwaway CA, Postfix answering STARTTLS as the MX hosts).
//
// The world is started by the shell script e2e/world; `bash e2e/test` starts it,
// runs `go test ./...` with STSPILOT_WORLD_ENV pointing at its world.env, and
// stops it again. Without STSPILOT_WORLD_ENV the tests in this package skip
// (and fail under CI=true).
//
// Scenarios lists one subdomain of example.test per failure seen in the field,
// with what the real validators say about it and what `stspilot check` is
// expected to report.
package e2e
