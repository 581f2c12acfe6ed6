"""One module per kubectl verb (or family of verbs): ``build(parser, verb)`` and ``run(session, opts)``."""
