from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

import audit
from accounts.decorators import requires
from accounts.roles import Capability
from beneficiaries.names import fold
from beneficiaries.scoping import get_visible_beneficiary_or_404, visible_beneficiaries

PAGE_SIZE = 50


@requires(Capability.VIEW_FOLLOWUP)
def beneficiary_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    beneficiaries = visible_beneficiaries(request.user)
    for term in fold(query).split():
        beneficiaries = beneficiaries.filter(search_text__contains=term)
    page = Paginator(beneficiaries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "beneficiaries/list.html", {"page": page, "query": query})


@requires(Capability.VIEW_FOLLOWUP)
def beneficiary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_visible_beneficiary_or_404(request, pk)
    audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary)
    return render(request, "beneficiaries/detail.html", {"beneficiary": beneficiary})
