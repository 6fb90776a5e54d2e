"""What acts on the Key Manager: its admin SOAP client (client.py, with its wire codec
soap.py and the endpoint's parsing destination.py) and the executor of a plan (sync.py).
What the KM should hold and which calls reach it is decided in rules/km_app.py; when a
pass calls at all, in rules/km_steps.py.
"""
