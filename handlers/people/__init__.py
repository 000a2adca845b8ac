"""People handlers: onboarding, /role and the people commands, approvals."""
