"""The files a check reads: .gto, the policies and artifacts.yaml, parsed the way gto
reads YAML and validated with JSON Schema, and the rules in force over time. Imports
model, policy and git."""
