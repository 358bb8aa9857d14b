#!/usr/bin/env python3
# A sender of raw IP packets through a tun device (IFF_TUN, no packet information): creates
# DEVICE in the current namespace and brings it up, prints "ready", waits for one line on stdin,
# writes COUNT UDP datagrams 10.99.0.2:40000 -> 10.99.0.1:5000 (payload PAYLOAD bytes) into the
# device (the kernel sees them arrive on it: libpcap captures them as DLT_RAW), then exits, which
# removes the device.   python3 tun-sender.py DEVICE COUNT PAYLOAD
import fcntl
import os
import socket
import struct
import subprocess
import sys

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000


def checksum(header: bytes) -> int:
    total = sum(struct.unpack('!%dH' % (len(header) // 2), header))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def main() -> None:
    device, count, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', device.encode(), IFF_TUN | IFF_NO_PI))
    subprocess.run(['ip', 'link', 'set', device, 'up'], check=True)
    print('ready', flush=True)
    sys.stdin.readline()
    for i in range(count):
        udp = struct.pack('!HHHH', 40000, 5000, 8 + payload, 0) + b'x' * payload
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                         socket.inet_aton('10.99.0.2'), socket.inet_aton('10.99.0.1'))
        os.write(fd, ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:] + udp)
    sys.stdin.readline()  # held open (the device with it) until told or until stdin closes


main()
