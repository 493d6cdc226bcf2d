"""The scoring API (``icp serve``): the current ICP's compiled scorecard over HTTP.

The web framework (FastAPI, uvicorn: ``pip install 'icpkit[serve]'``) is imported only by
:mod:`icpkit.serve.app` and :mod:`icpkit.serve.server`; the tokens (:mod:`icpkit.serve.tokens`)
and the scorer (:mod:`icpkit.serve.scorer`) need neither, so ``icp token`` and every other
command run without them.
"""
