"""E-banking channels: enrolment, signed accounts and limits, payees, payments, recalls."""
