"""Archive entries: one module per kind, and the one rule that turns a file into an entry.

The contract (``encode.py``, ``sink.py``): ``prepare_member`` then ``encode_member(prepared, policy)``
turn one scanned member into an ``EncodedEntry`` (header, payload or a stream to read, the outcome,
the warnings) without writing anything; ``sink.write(entry)`` puts it in an archive (``WriterSink``)
or only counts its bytes (``SizeCounter``). Compress and add both run this pair.

Modules import this package's submodules directly (this file imports nothing), so that a module
the kinds use (the estimate package) can itself import ``entries.image`` or ``entries.stored``.
"""
