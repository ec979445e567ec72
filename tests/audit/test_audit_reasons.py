from registry.services import injection_update, patient_withdraw_consent


def test_long_reasons_are_kept_whole_in_the_audit_trail(patient, injection, clinician):
    reason = "Patient phoned: " + "moving abroad for work and cannot attend follow-up; " * 8
    patient_withdraw_consent(patient=patient, by=clinician, decision="retain", reason=reason)
    assert patient.history.first().history_change_reason == f"Consent withdrawn: {reason}"

    correction = "Volume transcribed from the theatre sheet, which said 5 mL not 6 mL; " * 5
    injection_update(injection=injection, by=clinician, data={"volume_ml": 5}, reason=correction)
    assert injection.history.first().history_change_reason == correction
