"""Routing by what a request asks for: an offline task and complexity classifier.

`classifier.Classifier.load()` reads the shipped model (`data/classifier.npz` and
`data/classifier.json`, written by `python -m extproc.routing.train`); scikit-learn is imported
only then, so a gateway without a classifier route does not pay for it.
"""
