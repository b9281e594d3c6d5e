"""Routing by what a request asks for: an offline task and complexity classifier.

`classifier.Classifier.load()` reads the shipped model (`data/classifier.npz` and
`data/classifier.json`, written by `python -m extproc.routing.train`, which needs the `train`
extra: scikit-learn). Serving needs only numpy, so a gateway pays for none of it until a route
loads the classifier.
"""
