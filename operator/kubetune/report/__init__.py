"""What a study shows: a terminal summary, an HTML page of plots, a bias/variance diagnosis.

Reports read a study and never write to it: a local run's journal file, or a cluster
TuningJob's journal ConfigMaps through the kubeconfig (``kubetune report tuningjob/NAME``).
"""
