from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.decorators import requires
from accounts.roles import Capability
from beneficiaries.models import Beneficiary
from beneficiaries.names import fold

PAGE_SIZE = 50


@requires(Capability.VIEW_FOLLOWUP)
def beneficiary_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    beneficiaries = Beneficiary.objects.all()
    for term in fold(query).split():
        beneficiaries = beneficiaries.filter(search_text__contains=term)
    page = Paginator(beneficiaries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "beneficiaries/list.html", {"page": page, "query": query})


@requires(Capability.VIEW_FOLLOWUP)
def beneficiary_detail(request: HttpRequest, pk: int) -> HttpResponse:
    beneficiary = get_object_or_404(Beneficiary, pk=pk)
    return render(request, "beneficiaries/detail.html", {"beneficiary": beneficiary})
