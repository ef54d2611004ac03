"""The tenant portal: server-rendered pages (Jinja2, autoescaped) over the hub's own services.

``web`` routes requests (session cookie, CSRF, scoping), ``views`` gathers what each page shows
from the services (never from the tables directly), ``charts`` draws the overview's SVG charts.
Templates and the one stylesheet and script are files of this package, served by the function.
"""
