"""Reference views for the submission benchmark: what any submission must cost on this server.

- `trivial`: the Django stack with no database work at all.
- `minimal_submission`: look up the token's hash and insert one JSON row of the posted answers, in one
  transaction. The questionnaire's own POST does this and more (parse, score, lock the follow-up, update it, the
  session, the audit trail), so its throughput over this one is the overhead the product adds.
"""

import json

from django.db import connection, transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from outcomes.models.questionnaire import hash_token

TABLE = "bench_minimal_submission"
CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    link_id bigint NOT NULL,
    answers jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"""


def trivial(request):
    return HttpResponse("ok")


@csrf_exempt
@require_POST
def minimal_submission(request, token: str):
    answers = json.dumps({name: request.POST.get(name) for name in request.POST})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM outcomes_questionnairelink WHERE token_hash = %s", [hash_token(token)])
        row = cursor.fetchone()
        if row is None:
            return HttpResponse(status=404)
        cursor.execute(f"INSERT INTO {TABLE} (link_id, answers) VALUES (%s, %s)", [row[0], answers])  # noqa: S608
    return HttpResponse(status=204)
