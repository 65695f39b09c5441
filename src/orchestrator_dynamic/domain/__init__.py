"""Pure domain: messages, tickets, DAG rules, scores, errors and ports. No I/O here."""
