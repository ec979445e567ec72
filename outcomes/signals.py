"""Domain events outcomes announces to the apps above it (notifications)."""

from django.dispatch import Signal

# follow_up: it was just completed by a submission. Sent inside the submission's transaction (stopping its reminders
# commits with the answers, in one commit), in a savepoint: a receiver that fails never rolls back the answers.
follow_up_completed = Signal()
# submission: a questionnaire was submitted (sent after commit, so a failing receiver never loses it).
questionnaire_submitted = Signal()
# submission: its answers include an urgent one (Submission.urgent_answers). Sent inside the submission's
# transaction (in a savepoint, like follow_up_completed), so the advice to the patient is written to the outbox in
# the same commit as the answers.
urgent_answers_given = Signal()
# follow_up: its dates moved (pending messages move with it).
follow_up_rescheduled = Signal()
# follow_ups: list of follow-ups just cancelled (pending messages are cancelled with them).
follow_ups_cancelled = Signal()
# link: a questionnaire link locked after too many failed identity checks (the clinic is told).
link_locked = Signal()
