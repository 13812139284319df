"""The one gate: may this person's data be used for this purpose, on this channel, now?"""
