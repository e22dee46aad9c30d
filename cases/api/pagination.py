from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """`count`, `next`, `previous`, `results` (DESIGN 5). `?page_size=` up to 500 for syncs."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
