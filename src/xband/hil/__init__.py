"""Hardware in the loop: the wire protocol (hil/PROTOCOL.md) and its ends.

* :mod:`~xband.hil.codec` — frames: COBS, CRC-32, header; sans-I/O ``Decoder`` with counters;
* :mod:`~xband.hil.messages`, :mod:`~xband.hil.control` — payload layouts, split messages;
* :mod:`~xband.hil.link` — ``Link`` over any pySerial URL, pty or socket: reader and writer
  threads, bounded queues, session (HELLO, HEARTBEAT RTT, CLOSE), reconnect, statistics;
* :mod:`~xband.hil.loop` — ``run_hil``: the host half of the pipeline against a device;
* :mod:`~xband.hil.emulator` — the device emulator (``python -m xband.hil.emulator``);
* :mod:`~xband.hil.iq` — I/Q sources: simulated, SigMF, SoapySDR, ZeroMQ.

Heavy or optional libraries (pySerial, SoapySDR, pyzmq) are imported only when used.
"""
