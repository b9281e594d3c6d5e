"""The names of what the gateway redacts (a module of its own: naming them must not load Presidio)."""

# As Presidio names them; SECRET is the gateway's own (provider keys, tokens, private keys).
ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "SECRET")
# The output policy's configured words and phrases.
DENY_LIST = "DENY_LIST"
