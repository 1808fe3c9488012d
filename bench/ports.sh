# Sourced by the benchmark scripts that start servers on fixed ports.
#
# port_in_use PORT: whether something holds PORT on 127.0.0.1, found by binding it as the servers
# will (SO_REUSEADDR, as tokio's and Go's listeners set it). Connecting to the port instead can
# succeed with nothing listening: inside the ephemeral range (the scripts' default ports are)
# Linux may give the probe the very port it dials, a TCP self-connection, whose TIME_WAIT then
# keeps the server from binding.
port_in_use() {
	! python3 -c '
import socket, sys
probe = socket.socket()
probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
probe.bind(("127.0.0.1", int(sys.argv[1])))
' "$1" 2>/dev/null
}
