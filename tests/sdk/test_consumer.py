"""The official Python SDK against privatelink-sim: the consumer side, two accounts.

The owner (default account, 1234567890123456) publishes an NLB service; account B (2234567890123456,
client "other") connects to it from vpc-sim-b.
"""

import re
import uuid

import pytest
from alibabacloud_privatelink20200415 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from conftest import DEFAULT_ACCOUNT, OTHER_ACCOUNT
from sdkutil import REGION, SIGNATURES, client_error, code_or, create_req, poll, refused, wait_gone, wait_status

EP_ID = re.compile(r"^ep-[a-z0-9]{20}$")


def service_req():
    """nlb-sim-001 in cn-hangzhou-h, connections accepted by hand."""
    return create_req(auto_accept_enabled=False, tag=None)


def endpoint_req(sid, **kw):
    base = dict(region_id=REGION, service_id=sid, vpc_id="vpc-sim-b", security_group_id=["sg-sim-b-1"],
                endpoint_name="sdk-consumer", endpoint_description="sdk consumer test",
                zone=[m.CreateVpcEndpointRequestZone(zone_id="cn-hangzhou-h", v_switch_id="vsw-sim-b-h")])
    base.update(kw)
    return m.CreateVpcEndpointRequest(**base)


def published_service(owner, rt):
    sid = owner.create_vpc_endpoint_service_with_options(service_req(), rt).body.service_id
    wait_status(owner, sid, rt, "Active")
    return sid


def allow(owner, sid, rt, user=OTHER_ACCOUNT):
    owner.add_user_to_vpc_endpoint_service_with_options(m.AddUserToVpcEndpointServiceRequest(
        region_id=REGION, service_id=sid, user_id=int(user)), rt)


def by_end_user(c, rt, **kw):
    return c.list_vpc_endpoint_services_by_end_user_with_options(
        m.ListVpcEndpointServicesByEndUserRequest(region_id=REGION, **kw), rt).body


@pytest.mark.parametrize(**SIGNATURES)
def test_consumer_story(sim, runtime, v2):
    owner, b = sim.client(v2=v2), sim.client("other", v2=v2)
    sid = published_service(owner, runtime)
    assert by_end_user(b, runtime).total_count == "0"
    allow(owner, sid, runtime)
    users = owner.list_vpc_endpoint_service_users_with_options(m.ListVpcEndpointServiceUsersRequest(
        region_id=REGION, service_id=sid), runtime).body.users
    assert [u.user_id for u in users] == [int(OTHER_ACCOUNT)]

    # B finds the service it may connect to.
    found = by_end_user(b, runtime)
    assert found.total_count == "1"
    s = found.services[0]
    assert (s.service_id, s.service_type, s.service_resource_type, s.zones, s.auto_accept_enabled) == (
        sid, "Interface", "nlb", ["cn-hangzhou-h"], False)
    assert s.service_name == f"com.aliyuncs.privatelink.{REGION}.{sid}"
    assert [x.service_id for x in by_end_user(b, runtime, service_id=sid).services] == [sid]

    # B creates the endpoint.
    r = b.create_vpc_endpoint_with_options(endpoint_req(sid, client_token=str(uuid.uuid4())), runtime)
    assert r.status_code == 200
    created = r.body
    ep = created.endpoint_id
    assert EP_ID.match(ep), ep
    assert (created.endpoint_status, created.connection_status) == ("Creating", "Pending")
    assert (created.service_id, created.vpc_id, created.endpoint_name) == (sid, "vpc-sim-b", "sdk-consumer")
    assert created.endpoint_domain == f"{ep}.{sid}.{REGION}.privatelink.aliyuncs.com"
    assert len(created.request_id) == 36

    get_ep = lambda: b.get_vpc_endpoint_attribute_with_options(  # noqa: E731
        m.GetVpcEndpointAttributeRequest(region_id=REGION, endpoint_id=ep), runtime).body
    zones = lambda: b.list_vpc_endpoint_zones_with_options(  # noqa: E731
        m.ListVpcEndpointZonesRequest(region_id=REGION, endpoint_id=ep), runtime).body.zones
    assert poll(lambda: get_ep().endpoint_status, "Active", what="EndpointStatus") == ["Creating", "Active"]
    e = get_ep()
    assert (e.connection_status, e.service_id, e.vpc_id, e.endpoint_type, e.resource_group_id) == (
        "Pending", sid, "vpc-sim-b", "Interface", "rg-sim-default")
    z = zones()
    assert [(x.zone_id, x.v_switch_id, x.zone_status) for x in z] == [("cn-hangzhou-h", "vsw-sim-b-h", "Wait")]
    assert z[0].eni_id.startswith("eni-") and z[0].eni_ip.startswith("10.")
    sgs = b.list_vpc_endpoint_security_groups_with_options(m.ListVpcEndpointSecurityGroupsRequest(
        region_id=REGION, endpoint_id=ep), runtime).body
    assert [g.security_group_id for g in sgs.security_groups] == ["sg-sim-b-1"] and sgs.total_count == 1
    mine = b.list_vpc_endpoints_with_options(m.ListVpcEndpointsRequest(region_id=REGION), runtime).body
    assert [(x.endpoint_id, x.connection_status) for x in mine.endpoints] == [(ep, "Pending")]
    assert mine.total_count == 1 and isinstance(mine.total_count, int)
    # The endpoint is B's: the owner cannot see it as an endpoint, nor B the owner's service.
    refused(lambda: owner.get_vpc_endpoint_attribute_with_options(
        m.GetVpcEndpointAttributeRequest(region_id=REGION, endpoint_id=ep), runtime), "EndpointNotFound")
    refused(lambda: b.get_vpc_endpoint_service_attribute_with_options(
        m.GetVpcEndpointServiceAttributeRequest(region_id=REGION, service_id=sid), runtime),
        "EndpointServiceNotFound")
    # B's endpoint carries B's tags and resource group; ChangeResourceGroup's ResourceType defaults to VpcEndpoint.
    b.tag_resources_with_options(m.TagResourcesRequest(region_id=REGION, resource_type="vpcendpoint",
                                                       resource_id=[ep],
                                                       tag=[m.TagResourcesRequestTag(key="team", value="b")]),
                                 runtime)
    b.change_resource_group_with_options(m.ChangeResourceGroupRequest(resource_group_id="rg-sim-002",
                                                                      resource_id=ep), runtime)
    e = get_ep()
    assert e.resource_group_id == "rg-sim-002"
    tagged = b.list_vpc_endpoints_with_options(m.ListVpcEndpointsRequest(
        region_id=REGION, tag=[m.ListVpcEndpointsRequestTag(key="team", value="b")]), runtime).body.endpoints
    assert [x.endpoint_id for x in tagged] == [ep]

    # The owner sees the pending connection; it blocks the service's deletion and its zone's backend.
    def connections(**kw):
        return owner.list_vpc_endpoint_connections_with_options(m.ListVpcEndpointConnectionsRequest(
            region_id=REGION, service_id=sid, **kw), runtime).body

    conns = connections()
    assert conns.total_count == "1"
    cn = conns.connections[0]
    assert (cn.endpoint_id, cn.connection_status, cn.endpoint_owner_id, cn.endpoint_vpc_id, cn.service_id) == (
        ep, "Pending", int(OTHER_ACCOUNT), "vpc-sim-b", sid)
    assert [(x.zone_id, x.zone_status, x.resource_id) for x in cn.zones] == [("cn-hangzhou-h", "Wait", "")]
    assert [x.endpoint_id for x in connections(connection_status="Pending").connections] == [ep]
    assert connections(connection_status="Connected").connections == []
    delete_service = lambda: owner.delete_vpc_endpoint_service_with_options(  # noqa: E731
        m.DeleteVpcEndpointServiceRequest(region_id=REGION, service_id=sid), runtime)
    detach = lambda: owner.detach_resource_from_vpc_endpoint_service_with_options(  # noqa: E731
        m.DetachResourceFromVpcEndpointServiceRequest(region_id=REGION, service_id=sid, resource_id="nlb-sim-001",
                                                      resource_type="nlb", zone_id="cn-hangzhou-h"), runtime)
    refused(delete_service, "DeleteFailedDueToEndpointExist")
    refused(detach, "EndpointServiceConnectionDependence")

    # The owner accepts.
    owner.enable_vpc_endpoint_connection_with_options(m.EnableVpcEndpointConnectionRequest(
        region_id=REGION, service_id=sid, endpoint_id=ep), runtime)
    conn_status = lambda: connections(endpoint_id=ep).connections[0].connection_status  # noqa: E731
    assert poll(conn_status, "Connected", what="ConnectionStatus") == ["Connecting", "Connected"]
    assert get_ep().connection_status == "Connected"
    assert [(x.zone_id, x.zone_status) for x in zones()] == [("cn-hangzhou-h", "Connected")]
    cn = connections().connections[0]
    assert [(x.zone_id, x.zone_status, x.resource_id) for x in cn.zones] == [
        ("cn-hangzhou-h", "Connected", "nlb-sim-001")]
    res = owner.list_vpc_endpoint_service_resources_with_options(m.ListVpcEndpointServiceResourcesRequest(
        region_id=REGION, service_id=sid), runtime).body.resources
    assert [(x.resource_id, x.related_endpoint_count) for x in res] == [("nlb-sim-001", 1)]
    refused(delete_service, "EndpointServiceConnectionDependence")
    refused(detach, "EndpointServiceConnectionDependence")

    # B tears down: zones first, then the endpoint.
    delete_ep = lambda: b.delete_vpc_endpoint_with_options(  # noqa: E731
        m.DeleteVpcEndpointRequest(region_id=REGION, endpoint_id=ep), runtime)
    refused(delete_ep, "EndpointDependenceViolation")
    b.remove_zone_from_vpc_endpoint_with_options(m.RemoveZoneFromVpcEndpointRequest(
        region_id=REGION, endpoint_id=ep, zone_id="cn-hangzhou-h"), runtime)
    assert get_ep().endpoint_status == "Pending"
    assert [x.zone_status for x in zones()] == ["Deleting"]
    refused(delete_ep, "EndpointOperationDenied")
    assert poll(lambda: len(zones()), 0, what="zone count") == [1, 0]
    poll(lambda: get_ep().endpoint_status, "Active", what="EndpointStatus")
    assert b.list_vpc_endpoint_zones_with_options(m.ListVpcEndpointZonesRequest(
        region_id=REGION, endpoint_id=ep), runtime).body.total_count == 0
    delete_ep()
    e = get_ep()
    assert (e.endpoint_status, e.connection_status) == ("Deleting", "Deleting")
    assert poll(lambda: code_or(lambda: get_ep().endpoint_status), "EndpointNotFound",
                what="EndpointStatus") == ["Deleting", "EndpointNotFound"]
    refused(get_ep, "EndpointNotFound")
    assert b.list_vpc_endpoints_with_options(m.ListVpcEndpointsRequest(region_id=REGION),
                                             runtime).body.endpoints == []
    assert connections().total_count == "0"
    assert sim.admin("GET", "endpoints")["endpoints"] == []

    # The owner tears down: backend (zone-scoped), then the service.
    detach()
    assert wait_status(owner, sid, runtime, "Active") == ["Pending", "Active"]
    delete_service()
    assert wait_gone(owner, sid, runtime) == ["Deleting", "EndpointServiceNotFound"]
    assert by_end_user(b, runtime).total_count == "0"

    j = sim.admin("GET", "journal")
    accounts = {x["action"]: x["account"] for x in j["calls"]}
    assert (accounts["CreateVpcEndpoint"], accounts["EnableVpcEndpointConnection"]) == (OTHER_ACCOUNT,
                                                                                      DEFAULT_ACCOUNT)
    assert j["counts"]["DeleteVpcEndpointService"] == {
        "DeleteFailedDueToEndpointExist": 1, "EndpointServiceConnectionDependence": 1, "OK": 1}


@pytest.mark.parametrize(**SIGNATURES)
def test_consumer_refusals_and_lost_response(sim, runtime, v2):
    owner, b = sim.client(v2=v2), sim.client("other", v2=v2)
    sid = published_service(owner, runtime)
    create = lambda **kw: b.create_vpc_endpoint_with_options(endpoint_req(sid, **kw), runtime)  # noqa: E731

    # Not on the whitelist.
    assert by_end_user(b, runtime, service_id=sid).services == []
    refused(create, "EndpointServiceNotAuthorized")
    allow(owner, sid, runtime)
    assert [s.service_id for s in by_end_user(b, runtime, service_id=sid).services] == [sid]

    cases = [
        (dict(security_group_id=None), "EndpointMustContainSecurityGroup"),
        (dict(vpc_id="vpc-sim-nope"), "VpcNotFound"),
        (dict(vpc_id="vpc-sim-a"), "VpcNotFound"),  # the owner's VPC, not B's
        (dict(security_group_id=["sg-sim-b-1", "sg-sim-b-ent"]), "SecurityGroupTypeOnlySingleTypeSupporteded"),
        (dict(security_group_id=["sg-sim-a-1"]), "SecurityGroupNotFound"),
        (dict(service_id="epsrv-doesnotexist"), "EndpointServiceNotFound"),
        (dict(zone=[m.CreateVpcEndpointRequestZone(zone_id="cn-hangzhou-h", v_switch_id="vsw-sim-b-i")]),
         "VSwitchNotFound"),
        (dict(zone=[m.CreateVpcEndpointRequestZone(zone_id="cn-hangzhou-k", v_switch_id="vsw-sim-b-k")]),
         "EndpointServiceNotSupportedZone"),
        (dict(dry_run=True), "DryRunOperation"),
    ]
    for kw, code in cases:
        refused(lambda: create(**kw), code)
    assert sim.admin("GET", "endpoints")["endpoints"] == []

    # The response to a committed CreateVpcEndpoint is lost; the retry with the same ClientToken gets
    # the same endpoint back instead of a second one.
    tok = str(uuid.uuid4())
    sim.admin("POST", "faults", {"action": "CreateVpcEndpoint", "kind": "lose_response", "count": 1})
    with pytest.raises(Exception) as ei:
        create(client_token=tok)
    assert not isinstance(ei.value, ClientException), ei.value
    eps = sim.admin("GET", "endpoints")["endpoints"]
    assert len(eps) == 1, "the operation was committed"
    assert (eps[0]["accountId"], eps[0]["serviceId"], eps[0]["vpcId"]) == (OTHER_ACCOUNT, sid, "vpc-sim-b")
    again = create(client_token=tok).body
    assert again.endpoint_id == eps[0]["endpointId"] and EP_ID.match(again.endpoint_id)
    assert again.connection_status == "Pending"
    assert [e["endpointId"] for e in sim.admin("GET", "endpoints")["endpoints"]] == [again.endpoint_id]
    j = sim.admin("GET", "journal")
    calls = [x for x in j["calls"] if x["action"] == "CreateVpcEndpoint" and x.get("clientToken") == tok]
    assert [(x["code"], x.get("fault"), bool(x.get("replayed"))) for x in calls] == [
        ("OK", "lose_response", False), ("OK", None, True)]
    # Same token, different parameters: refused; a new token: one endpoint per service and VPC.
    e = client_error(lambda: create(client_token=tok, endpoint_name="other-name"))
    assert e.code == "IdempotenceSignatureMismatch"
    refused(lambda: create(client_token=str(uuid.uuid4())), "EndpointDuplicated")
    assert len(sim.admin("GET", "endpoints")["endpoints"]) == 1
    # The owner sees the one pending connection.
    conns = owner.list_vpc_endpoint_connections_with_options(m.ListVpcEndpointConnectionsRequest(
        region_id=REGION, service_id=sid), runtime).body
    assert [(x.endpoint_id, x.connection_status) for x in conns.connections] == [(again.endpoint_id, "Pending")]
