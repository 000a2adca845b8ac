"""People: who may do what, invites, teams, users and the approvals they ask one another for."""
