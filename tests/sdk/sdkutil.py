"""Request builders, polling and error helpers shared by the SDK tests."""

import time

import pytest
from alibabacloud_privatelink20200415 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

REGION = "cn-hangzhou"
SIGNATURES = dict(argnames="v2", argvalues=[False, True], ids=["v3-acs3-hmac-sha256", "v2-hmac-sha1"])


def create_req(**kw):
    base = dict(region_id=REGION, service_resource_type="nlb", service_description="sdk test",
                auto_accept_enabled=True, zone_affinity_enabled=False,
                resource=[m.CreateVpcEndpointServiceRequestResource(resource_type="nlb", resource_id="nlb-sim-001",
                                                                   zone_id="cn-hangzhou-h")],
                tag=[m.CreateVpcEndpointServiceRequestTag(key="env", value="dev")])
    base.update(kw)
    return m.CreateVpcEndpointServiceRequest(**base)


def get(c, sid, rt):
    return c.get_vpc_endpoint_service_attribute_with_options(
        m.GetVpcEndpointServiceAttributeRequest(region_id=REGION, service_id=sid), rt).body


def poll(fn, want, timeout=5.0, what="value"):
    """Call fn() until it returns want; the distinct values seen, in order (the last is want)."""
    seen = []
    deadline = time.time() + timeout
    while True:
        v = fn()
        if not seen or seen[-1] != v:
            seen.append(v)
        if v == want:
            return seen
        if time.time() >= deadline:
            raise AssertionError(f"{what} never became {want!r}; saw {seen}")
        time.sleep(0.05)


def code_or(fn):
    """fn()'s result, or the Code of the ClientException it raises."""
    try:
        return fn()
    except ClientException as e:
        return e.code


def wait_status(c, sid, rt, want, timeout=5.0):
    return poll(lambda: get(c, sid, rt).service_status, want, timeout, f"{sid} status")


def wait_gone(c, sid, rt, timeout=5.0):
    """Poll until GetVpcEndpointServiceAttribute answers 400 EndpointServiceNotFound."""
    def status():
        try:
            return get(c, sid, rt).service_status
        except ClientException as e:
            assert e.status_code == 400, e
            return e.code
    return poll(status, "EndpointServiceNotFound", timeout, f"{sid} status")


def client_error(fn):
    with pytest.raises(ClientException) as ei:
        fn()
    return ei.value


def refused(fn, code, status=400):
    """fn() raises a ClientException with this Code and HTTP status."""
    e = client_error(fn)
    assert (e.code, e.status_code) == (code, status), e
    return e
