"""Serving compiled graphc models: the Open Inference Protocol v2 server and the Triton repository.

`serve` (the server, on kserve: install the `serve` extra) is imported only when called, so that
writing a Triton repository (`triton_repo`) needs neither kserve nor a server.
"""


def serve(models, **options):
    """Serve `models` on OIP v2 REST and gRPC until interrupted; see `graphc.serve`."""
    from graphc.runtime.serving.server import serve as run

    return run(models, **options)
