"""The hooks and what they need: pre-receive, pre-push and reference-transaction, the
lock a push holds until it lands, installing the shims. Imports every layer below;
never commands or ui."""
