// Package supervise is the process kiln puts in front of a container's program when its
// image's live_update has restart_container(): it runs the program, and on SIGHUP (sent by
// kiln from the node after a sync) stops it and starts it again, in the same container,
// whose files the sync just changed. A kubelet restart would start a new container from the
// image instead, without them. Any other signal goes to the program; when the program exits
// by itself, the supervisor exits with its status, so the pod's restart policy sees what it
// would have seen without kiln.
//
// It runs as `kiln __supervise -- PROGRAM ARGS...` from a static kiln binary mounted into the
// container, so it needs nothing in the image: FROM scratch works.
package supervise

// Command is the hidden kiln subcommand that runs the supervisor.
const Command = "__supervise"

// RestartSignalName is the signal kiln sends to ask for a restart, as kill(1) names it.
const RestartSignalName = "HUP"
