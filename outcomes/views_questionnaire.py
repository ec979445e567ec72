"""The patient's questionnaire at /q/<token>/: no login, the token is the key.

- A GET never changes anything (mail scanners follow links): "opened" is a POST from the page's own script.
- Every response is private: Referrer-Policy no-referrer (the token is in the URL) and Cache-Control no-store.
- Unknown tokens count against the client's address; past the limit every link request gets 429 (ratelimit).
- Each state of a link has its own page and status code, and none of them names the patient.
"""

import logging
from datetime import timedelta
from functools import wraps
from urllib.parse import urlencode

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import decorator_from_middleware
from django.utils.translation import get_language, gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from outcomes import forms, own_scores, ratelimit, services
from outcomes.models import FollowUp, QuestionnaireDraft, SubmissionSource, Timepoint
from outcomes.models.questionnaire import LinkChannel
from outcomes.services import LinkState, ResolvedLink
from registry.choices import Knee
from registry.i18n import LANGUAGE_PARAMETER, language_switch, patient_language, supported
from registry.models import Clinic

logger = logging.getLogger(__name__)

# Status code per link state. Invalid 404: nothing is there. Used 409: the request conflicts with the one
# submission already stored. Expired and cancelled 410: the questionnaire existed and is gone for good.
# Not yet open 403 and locked 403: the link is real but may not be used now (425 "Too Early" is about TLS
# early data, and 423 "Locked" is WebDAV's), and neither state reveals more than the page text says.
STATE_STATUS = {
    LinkState.INVALID: 404,
    LinkState.EXPIRED: 410,
    LinkState.CANCELLED: 410,
    LinkState.SUBMITTED: 409,
    LinkState.NOT_YET_OPEN: 403,
    LinkState.LOCKED: 403,
}
VERIFIED_SESSION_KEY = "q_verified_links"
THANKS_SALT = "outcomes.questionnaire-thanks"
THANKS_MAX_AGE = 60 * 60  # seconds: a reload shortly after still names the clinic
# The patient's own scores (outcomes.own_scores) are reached from the thanks page only, through a signed view token
# bound to the one submission just sent: it cannot be guessed or edited to name another follow-up, and it expires
# this long after the answers were sent, however often the thanks page is reloaded to sign a fresh one.
OWN_SCORES_SALT = "outcomes.own-scores"
OWN_SCORES_MAX_AGE = THANKS_MAX_AGE
OWN_SCORES_RATE_BUCKET = "own-scores"  # its own count: a forged view token never blocks a patient's questionnaire

TIMEPOINT_HEADINGS = {
    Timepoint.BASELINE: gettext_lazy("Before your injection"),  # answerable a few days after it too: BASELINE_NOTE
    Timepoint.DAY_3: gettext_lazy("A short safety check, a few days after your injection"),
    Timepoint.DAY_12: gettext_lazy("A short safety check, about two weeks after your injection"),
    Timepoint.ONE_MONTH: gettext_lazy("About one month after your injection"),
    Timepoint.SIX_MONTHS: gettext_lazy("About six months after your injection"),
    Timepoint.TWELVE_MONTHS: gettext_lazy("About a year after your injection"),
    Timepoint.TWENTY_FOUR_MONTHS: gettext_lazy("About two years after your injection"),
}
# The page's title names the knee; translated as a whole title, since languages place the word differently.
QUESTIONNAIRE_TITLES = {
    Knee.LEFT: gettext_lazy("Your left knee questionnaire"),
    Knee.RIGHT: gettext_lazy("Your right knee questionnaire"),
}


# The baseline may be answered up to BASELINE_CLOSES_DAYS_AFTER_INJECTION days after the injection
# (outcomes.schedule.baseline_window); its questions are then about the days before it.
BASELINE_NOTE = gettext_lazy(
    "If you have already had this injection, please answer about how your knee was in the days before it, "
    "not about how it is now."
)


class _NoReferrerCsrfMiddleware(CsrfViewMiddleware):
    """CSRF protection for pages sent with Referrer-Policy: no-referrer.

    Under that policy browsers send ``Origin: null`` on a form POST (Chromium does; fetch() sends the real
    origin), which Django's origin check rejects. The CSRF token check (cookie against form field or header)
    still runs in full, and the bearer token in the path already keeps other sites from addressing the link.
    """

    def _origin_verified(self, request):
        if request.META.get("HTTP_ORIGIN") == "null":
            return True
        return super()._origin_verified(request)


_csrf_protect_no_referrer = decorator_from_middleware(_NoReferrerCsrfMiddleware)


def _private(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)  # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def private(view):
    """Mark a /q/ view: private headers on every response, CSRF that tolerates Origin: null."""

    protected = _csrf_protect_no_referrer(view)

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        return _private(protected(request, *args, **kwargs))

    return csrf_exempt(wrapper)  # the global middleware steps aside; the check above runs instead


def state_page(request: HttpRequest, state: str, *, status: int | None = None) -> HttpResponse:
    context = {"state": state, "languages": language_switch(get_language())}
    return render(request, "outcomes/q_state.html", context, status=status or STATE_STATUS[state])


def _too_many(request: HttpRequest) -> HttpResponse:
    limit = ratelimit.link_limit()
    response = render(
        request,
        "outcomes/q_state.html",
        {"state": "rate_limited", "minutes": max(1, -(-limit.window_seconds // 60))},
        status=429,
    )
    response["Retry-After"] = str(limit.window_seconds)
    return response


def _json_state(state: str, status: int) -> JsonResponse:
    return JsonResponse({"state": state}, status=status)


def with_link(*, json: bool = False):
    """Resolve the token (rate limited) and hand the view a ResolvedLink that is not INVALID, with the language
    of the link's patient active (registry.i18n); an unknown link's page follows the browser."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, token: str):
            if ratelimit.is_blocked(request):
                if json:
                    return _json_state("rate_limited", 429)
                with patient_language(request):
                    return _too_many(request)
            resolved = services.link_resolve(token)
            if resolved.state == LinkState.INVALID:
                ratelimit.record_failure(request)
                if json:
                    return _json_state(LinkState.INVALID, 404)
                with patient_language(request):
                    return state_page(request, LinkState.INVALID)
            with patient_language(request, resolved.follow_up.patient) as language:
                response = view(request, resolved)
            response["Content-Language"] = language
            return response

        return wrapper

    return decorate


def _needs_check(request: HttpRequest, resolved: ResolvedLink) -> bool:
    """The clinic asks for the year of birth first; links made for the clinic tablet skip it (staff are there)."""
    link = resolved.link
    if not link.follow_up.clinic.link_requires_year_of_birth or link.channel == LinkChannel.CLINIC:
        return False
    return link.pk not in request.session.get(VERIFIED_SESSION_KEY, [])


def _check_page(request, resolved, form=None, *, status=200, tries_left=None) -> HttpResponse:
    context = {
        "clinic": resolved.follow_up.clinic,
        "form": form or forms.YearOfBirthForm(),
        "tries_left": tries_left,
        # Same-page relative address, so the token is not written into the page a second time.
        "check_action": "" if request.path.endswith("/check/") else "check/",
        "languages": language_switch(get_language()),
    }
    return render(request, "outcomes/q_check.html", context, status=status)


def _questionnaire_page(request, resolved, *, values=None, errors=None, status=200) -> HttpResponse:
    follow_up = resolved.follow_up
    link = resolved.link
    if values is None:
        values = _draft_values(follow_up)
    sections = forms.build_sections(follow_up, values, errors)
    context = {
        "clinic": follow_up.clinic,
        "heading": TIMEPOINT_HEADINGS.get(follow_up.timepoint, ""),
        # A patient treated in both knees has a questionnaire for each: the page says which one this is.
        "questionnaire_title": QUESTIONNAIRE_TITLES[follow_up.plan.knee],
        "about": follow_up.patient_label,
        "baseline_note": BASELINE_NOTE if follow_up.timepoint == Timepoint.BASELINE else "",
        "minutes": 2 if follow_up.is_safety_check else 10,
        "sections": sections,
        "stray_errors": forms.stray_errors(sections, errors or {}),
        "errors": errors or {},
        "autosave": True,
        # On a shared clinic tablet nothing is kept in the browser; the server draft is enough there.
        "local_save": link.channel != LinkChannel.CLINIC,
        "draft_key": f"q-draft-{follow_up.pk}",
        "submit_label": gettext_lazy("Send my answers"),
        "languages": language_switch(get_language()),
    }
    return render(request, "outcomes/questionnaire.html", context, status=status)


def _draft_values(follow_up) -> dict[str, str]:
    draft = QuestionnaireDraft.objects.filter(follow_up=follow_up).values_list("answers", flat=True).first()
    return {k: str(v) for k, v in (draft or {}).items()}


@private
@require_http_methods(["GET", "HEAD", "POST"])
@with_link()
def questionnaire(request: HttpRequest, resolved: ResolvedLink) -> HttpResponse:
    if resolved.state == LinkState.SUBMITTED and request.method != "POST":
        # A text for both knees: its link, once the first questionnaire is in, leads to the next one.
        following = _next_questionnaire(request, resolved)
        if following is not None:
            return following
    if resolved.state != LinkState.VALID:
        return state_page(request, resolved.state)
    if _needs_check(request, resolved):
        return _check_page(request, resolved, status=200 if request.method != "POST" else 403)
    if request.method != "POST":
        return _questionnaire_page(request, resolved)

    link = resolved.link
    source = SubmissionSource.CLINIC_TABLET if link.channel == LinkChannel.CLINIC else SubmissionSource.PATIENT_LINK
    try:
        submission = services.questionnaire_submit(
            follow_up=resolved.follow_up, data=request.POST, source=source, language=get_language()
        )
    except ValidationError as exc:
        errors = {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
        return _questionnaire_page(
            request, resolved, values=forms.values_from_post(request.POST), errors=errors, status=400
        )
    except services.AlreadySubmitted:
        return state_page(request, LinkState.SUBMITTED)
    except services.NotOpen:
        return state_page(request, LinkState.EXPIRED)
    # The thanks page has no token in its address, so nothing on it can leak the link. What it shows travels
    # signed in the address rather than in a session: a patient's submission writes nothing but the answers.
    thanks = {
        "c": resolved.follow_up.clinic_id,
        "f": resolved.follow_up.pk,
        "t": link.channel == LinkChannel.CLINIC,
        "l": get_language(),  # the thanks page has no link to find the patient's language by
    }
    if submission.urgent_answers():
        thanks["u"] = True  # the page tells the patient to get care today
    if submission.emergency_answers():
        thanks["e"] = True  # ...or to call emergency services now (chest pain, facial swelling)
    if not (thanks.get("u") or thanks.get("e")):
        # One text for both knees: straight on to the other knee's questionnaire. Never past the advice to get
        # care (the thanks page); the text's link leads to the other one when opened again.
        following = _next_questionnaire(request, resolved)
        if following is not None:
            return following
    thanks = signing.dumps(thanks, salt=THANKS_SALT)
    return redirect(f"{reverse('outcomes:questionnaire-thanks')}?{urlencode({'s': thanks})}")


def _next_questionnaire(request: HttpRequest, resolved: ResolvedLink) -> HttpResponse | None:
    """A redirect to the next questionnaire of the text this link came in, if it carried several and one is still
    to answer. A patient past the year-of-birth check for this link is past it for the next too (one text, one
    person)."""
    token = request.resolver_match.kwargs["token"]
    following = services.link_following(resolved.link, token)
    if following is None:
        return None
    next_token, next_link = following
    verified = request.session.get(VERIFIED_SESSION_KEY, []) if hasattr(request, "session") else []
    if resolved.link.pk in verified and next_link.pk not in verified:
        request.session[VERIFIED_SESSION_KEY] = [*verified, next_link.pk][-20:]
    return redirect(reverse("outcomes:questionnaire", args=[next_token]))


@private
@require_POST
@with_link()
def questionnaire_check(request: HttpRequest, resolved: ResolvedLink) -> HttpResponse:
    """The year-of-birth check; on success the session remembers this link for the rest of the visit."""
    if resolved.state != LinkState.VALID:
        return state_page(request, resolved.state)
    if not _needs_check(request, resolved):
        return redirect(request.path.removesuffix("check/"))
    form = forms.YearOfBirthForm(request.POST)
    if not form.is_valid():
        return _check_page(request, resolved, form, status=400)
    link = resolved.link
    if services.link_check_year_of_birth(link=link, year=form.cleaned_data["year_of_birth"]):
        verified = [*request.session.get(VERIFIED_SESSION_KEY, []), link.pk]
        request.session[VERIFIED_SESSION_KEY] = verified[-20:]
        return redirect(request.path.removesuffix("check/"))
    if link.locked_at:
        return state_page(request, LinkState.LOCKED)
    form.add_error("year_of_birth", gettext_lazy("That year does not match our records. Please check and try again."))
    tries_left = max(services.YEAR_OF_BIRTH_TRIES - link.failed_checks, 0)
    return _check_page(request, resolved, form, status=400, tries_left=tries_left)


@private
@require_POST
@with_link(json=True)
def questionnaire_draft(request: HttpRequest, resolved: ResolvedLink) -> HttpResponse:
    """Autosave from the page's script: keeps what the patient has answered so far (not validated yet)."""
    if resolved.state != LinkState.VALID:
        return _json_state(resolved.state, STATE_STATUS[resolved.state])
    if _needs_check(request, resolved):
        return _json_state("check_required", 403)
    services.draft_save(follow_up=resolved.follow_up, data=request.POST)
    return JsonResponse({"saved": True})


@private
@require_POST
@with_link(json=True)
def questionnaire_opened(request: HttpRequest, resolved: ResolvedLink) -> HttpResponse:
    """The page's beacon: a person (not a mail scanner's GET) opened the link; past the year-of-birth check,
    where the clinic asks for one, so that it is the patient."""
    if resolved.state != LinkState.VALID:
        return _json_state(resolved.state, STATE_STATUS[resolved.state])
    if _needs_check(request, resolved):
        return _json_state("check_required", 403)
    services.link_mark_opened(link=resolved.link)
    return HttpResponse(status=204)


@private
@require_GET
def questionnaire_thanks(request: HttpRequest) -> HttpResponse:
    try:
        thanks = signing.loads(request.GET.get("s", ""), salt=THANKS_SALT, max_age=THANKS_MAX_AGE)
    except signing.BadSignature:  # an old, edited or missing value: the generic thanks is still true
        thanks = {}
    if not isinstance(thanks, dict):
        thanks = {}
    known = thanks.get("l") if isinstance(thanks.get("l"), str) else None
    with patient_language(request, known=known) as language:
        response = _thanks_page(request, thanks)
    response["Content-Language"] = language
    return response


def _thanks_page(request: HttpRequest, thanks: dict) -> HttpResponse:
    clinic_id = thanks.get("c")
    clinic = Clinic.objects.filter(pk=clinic_id).only("name", "phone").first() if clinic_id else None
    follow_up_id = thanks.get("f")
    follow_up = (
        FollowUp.objects.select_related("plan", "patient__clinic", "submission").filter(pk=follow_up_id).first()
        if follow_up_id
        else None
    )
    on_tablet = thanks.get("t") is True
    urgent = thanks.get("u") is True or thanks.get("e") is True
    scores_token = ""
    if follow_up is not None and own_scores.offered_after(follow_up, on_tablet=on_tablet, urgent=urgent):
        submission = getattr(follow_up, "submission", None)
        if submission is not None and _own_scores_open(submission):
            scores_token = own_scores_token(submission)
    raw = request.GET.get("s", "")
    return render(
        request,
        "outcomes/q_thanks.html",
        {
            "clinic_name": clinic.name if clinic else "",
            "clinic_phone": clinic.phone if clinic else "",
            "clinic_phone_link": clinic.phone_link if clinic else "",
            "about": follow_up.patient_label if follow_up else "",
            "on_tablet": on_tablet,
            "urgent": thanks.get("u") is True,
            "emergency": thanks.get("e") is True,
            "scores_url": _scores_url(scores_token, request) if scores_token else "",
            # The switch keeps the signed value, so the page in the other language still says the same.
            "languages": _switch_keeping(raw),
        },
    )


def _scores_url(token: str, request: HttpRequest) -> str:
    """The own-scores page's address; a language picked on the thanks page carries on to it."""
    query = {"s": token}
    chosen = supported(request.GET.get(LANGUAGE_PARAMETER))
    if chosen:
        query[LANGUAGE_PARAMETER] = chosen
    return f"{reverse('outcomes:questionnaire-own-scores')}?{urlencode(query)}"


def _switch_keeping(signed: str) -> list[dict[str, str]]:
    languages = language_switch(get_language())
    if signed:
        for language in languages:
            language["href"] = "?" + urlencode({"s": signed, "lang": language["lang"]})
    return languages


# --- The patient's own scores, after sending --------------------------------------------------------------------


def own_scores_token(submission) -> str:
    """The view token of one submission's scores page: signed (not guessable, not editable), short-lived."""
    return signing.dumps(
        {"f": submission.follow_up_id, "s": submission.pk, "l": submission.language}, salt=OWN_SCORES_SALT
    )


def _own_scores_open(submission) -> bool:
    return timezone.now() < submission.submitted_at + timedelta(seconds=OWN_SCORES_MAX_AGE)


def _read_own_scores_token(raw: str) -> tuple[dict | None, str]:
    """(the signed view, "") or (None, "expired" or "invalid")."""
    try:
        view = signing.loads(raw, salt=OWN_SCORES_SALT, max_age=OWN_SCORES_MAX_AGE)
    except signing.SignatureExpired:
        return None, "expired"
    except signing.BadSignature:
        return None, "invalid"
    if not isinstance(view, dict) or not all(isinstance(view.get(k), int) for k in ("f", "s")):
        return None, "invalid"
    return view, ""


def _own_scores_gone(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    return render(
        request,
        "outcomes/q_own_scores.html",
        {"gone": reason, "languages": language_switch(get_language())},
        status=status,
    )


@private
@require_safe  # reading changes nothing: a HEAD answers as the GET would
def questionnaire_own_scores(request: HttpRequest) -> HttpResponse:
    """The patient's own scores for the knee they just answered about. Refused (with nothing about anyone) when the
    view token is missing, edited or forged (404, logged and counted like an unknown link), or has expired (410)."""
    if ratelimit.is_blocked(request, bucket=OWN_SCORES_RATE_BUCKET):
        with patient_language(request):
            return _too_many(request)
    raw = request.GET.get("s", "")
    view, reason = _read_own_scores_token(raw)
    if view is None:
        if reason == "invalid":
            logger.warning("Own-scores page refused: a missing, edited or forged view token")
            ratelimit.record_failure(request, bucket=OWN_SCORES_RATE_BUCKET)
        with patient_language(request) as language:
            response = _own_scores_gone(request, reason, 404 if reason == "invalid" else 410)
        response["Content-Language"] = language
        return response
    known = view.get("l") if isinstance(view.get("l"), str) else None
    # The follow-up and the submission the token was signed for, together: a token never reaches another's data.
    follow_up = (
        FollowUp.objects.select_related("plan", "patient__clinic", "submission")
        .filter(pk=view["f"], submission__pk=view["s"])
        .first()
    )
    with patient_language(request, known=known) as language:
        if follow_up is None or follow_up.patient.has_withdrawn or not own_scores.offered_to(follow_up.patient):
            response = _own_scores_gone(request, "invalid", 404)
        elif not _own_scores_open(follow_up.submission):
            response = _own_scores_gone(request, "expired", 410)
        else:
            clinic = follow_up.patient.clinic
            response = render(
                request,
                "outcomes/q_own_scores.html",
                {
                    "clinic": clinic,
                    "timeline": own_scores.timeline(follow_up),
                    "languages": _switch_keeping(raw),
                },
            )
    response["Content-Language"] = language
    return response
