"""Modal screens: confirmations, forms and viewers that sit over a screen and return a value."""
