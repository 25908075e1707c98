"""reenactor: pose-guided human video synthesis (motion transfer).

Data flows one way: video -> clip store -> dataset -> method -> trainer -> checkpoint -> transfer -> video.
"""

__version__ = "0.1.0"
