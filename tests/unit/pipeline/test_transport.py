"""The pipeline's error mapping: body first, whatever the HTTP status."""

from __future__ import annotations

import pytest

from kisresearch import errors
from kisresearch.pipeline.transport import Request, Transport, check_body


@pytest.mark.parametrize(
    ("body", "status", "cls", "code"),
    [
        (
            {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."},
            500,
            errors.RateLimited,
            "EGW00201",
        ),
        (
            {"rt_cd": "1", "msg_cd": "EGW00201", "msg1": "초당 거래건수를 초과하였습니다."},
            200,
            errors.RateLimited,
            "EGW00201",
        ),
        (
            {"rt_cd": "1", "msg_cd": "EGW00215", "msg1": "원장 초당 거래건수 초과"},
            500,
            errors.RateLimited,
            "EGW00215",
        ),
        (
            {"rt_cd": "1", "msg_cd": "EGW00121", "msg1": "유효하지 않은 token 입니다."},
            500,
            errors.TokenInvalid,
            "EGW00121",
        ),
        (
            {"rt_cd": "1", "msg_cd": "EGW00123", "msg1": "기간이 만료된 token 입니다."},
            200,
            errors.TokenInvalid,
            "EGW00123",
        ),
        (
            {"error_code": "EGW00133", "error_description": "1분당 1회"},
            403,
            errors.TokenThrottled,
            "EGW00133",
        ),
        (
            {"error_code": "EGW00103", "error_description": "유효하지 않은 AppKey입니다."},
            403,
            errors.CredentialsRejected,
            "EGW00103",
        ),
        (
            {"rt_cd": "1", "msg_cd": "OPSQ0002", "msg1": "없는 종목"},
            500,
            errors.APIError,
            "OPSQ0002",
        ),
    ],
)
def test_error_bodies_map_to_exceptions(body, status, cls, code):
    with pytest.raises(cls) as info:
        check_body(body, status=status, tr_id="FHKST01010100", endpoint="quote")
    exc = info.value
    assert type(exc) is cls
    assert exc.msg_cd == code
    assert exc.status == status
    assert exc.tr_id == "FHKST01010100"
    assert code in str(exc) and "quote" in str(exc)


def test_success_body_passes_and_non_kis_error_status_is_bad_response():
    body = {"rt_cd": "0", "msg_cd": "MCA00000", "msg1": "정상처리 되었습니다.", "output": {}}
    assert check_body(body, status=200) is body
    with pytest.raises(errors.BadResponse):
        check_body({"hello": "world"}, status=502)
    with pytest.raises(errors.BadResponse):
        check_body(["not", "an", "object"], status=200)


def test_api_error_pickles_with_its_fields():
    import pickle

    exc = errors.api_error("EGW00201", "x", status=500, tr_id="T", endpoint="e")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is errors.RateLimited
    assert (back.msg_cd, back.status, back.tr_id, back.endpoint) == ("EGW00201", 500, "T", "e")


def test_connection_refused_is_connection_failed():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = Transport(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(errors.ConnectionFailed) as info:
        t.send(Request("/x", "TR"), {})
    assert str(port) in str(info.value)
    t.close()


def test_headers_sent_and_html_page_is_bad_response(sim):
    t = Transport(sim.base_url, timeout=5)
    token = t.post_json(
        "/oauth2/tokenP",
        {"grant_type": "client_credentials", "appkey": sim.app_key, "appsecret": sim.app_secret},
    ).body["access_token"]
    auth = {"authorization": f"Bearer {token}", "appkey": sim.app_key, "appsecret": sim.app_secret}
    r = t.send(
        Request(
            "/uapi/domestic-stock/v1/quotations/inquire-price",
            "FHKST01010100",
            {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
        ),
        auth,
    )
    assert r.status == 200 and r.body["rt_cd"] == "0"
    assert isinstance(r.body["output"]["stck_prpr"], str)
    from kisresearch.sim import Faults

    sim.faults = Faults(html_500=1.0)
    with pytest.raises(errors.BadResponse) as info:
        t.send(
            Request(
                "/uapi/domestic-stock/v1/quotations/inquire-price",
                "FHKST01010100",
                {"FID_COND_MRKT_DIV_CODE": "J", "FID_INPUT_ISCD": "005930"},
            ),
            auth,
        )
    assert info.value.status == 500
    t.close()
