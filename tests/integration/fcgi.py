"""fcgi.py: a minimal FastCGI client (the responder role of the FastCGI 1.0
specification), so tests can talk to a worker without nginx: under spawn-fcgi, or to
watch one process finish its request after SIGTERM; over TCP, and on a connection kept
between requests as nginx keeps them."""

import socket
import struct

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1


def _record(rtype, content, request_id=1):
    return struct.pack("!BBHHBB", 1, rtype, request_id, len(content), 0, 0) + content


def _pair(name, value):
    out = b""
    for item in (name, value):
        n = len(item)
        out += bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
    return out + name + value


FCGI_KEEP_CONN = 1


def _message(method, path, body, headers, content_type, flags):
    params = {"REQUEST_METHOD": method, "SCRIPT_NAME": "/api", "PATH_INFO": path,
              "QUERY_STRING": "", "CONTENT_LENGTH": str(len(body)),
              "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1"}
    if body:
        params["CONTENT_TYPE"] = content_type
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    encoded = b"".join(_pair(k.encode(), v.encode()) for k, v in params.items())
    msg = _record(BEGIN_REQUEST, struct.pack("!HB5x", RESPONDER, flags))
    msg += _record(PARAMS, encoded) + _record(PARAMS, b"")
    for i in range(0, len(body), 65535):
        msg += _record(STDIN, body[i:i + 65535])
    return msg + _record(STDIN, b"")


def _answer(s):
    """Reads records from socket s up to END_REQUEST; returns what _parse makes of them."""
    out, buf = b"", b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("the worker closed the connection before END_REQUEST")
        buf += chunk
        while len(buf) >= 8:
            _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == STDOUT:
                out += content
            elif rtype == END_REQUEST:
                return _parse(out)


def request(sock_path, method, path, body=b"", headers=None, timeout=60,
            content_type="application/json"):
    """Sends one request to the FastCGI socket at sock_path (a unix socket's path, or a
    (host, port) pair for TCP); returns (status, headers dict with lower-case names, body
    bytes). A body goes with `content_type`."""
    family = socket.AF_INET if isinstance(sock_path, tuple) else socket.AF_UNIX
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(_message(method, path, body, headers, content_type, 0))
        return _answer(s)


class KeptConnection:
    """A connection the client keeps open between requests (FCGI_KEEP_CONN), as nginx
    keeps its connections to the workers with fastcgi_keep_conn."""

    def __init__(self, sock_path, timeout=30):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(sock_path)

    def send(self, method, path, body=b"", headers=None, content_type="application/json"):
        """Writes a request without waiting for its answer (see receive)."""
        self.sock.sendall(_message(method, path, body, headers, content_type, FCGI_KEEP_CONN))

    def receive(self):
        """The answer to the request sent last, as request() returns it."""
        return _answer(self.sock)

    def request(self, method, path, body=b"", headers=None, content_type="application/json"):
        self.send(method, path, body, headers, content_type)
        return self.receive()

    def closed_by_worker(self, wait=5):
        """Whether the worker has closed its end (end of file within `wait` seconds)."""
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        self.sock.close()


def _parse(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body
