"""`cantor serve`: the composer in a browser (textual-serve), made safe and able to deliver files."""
